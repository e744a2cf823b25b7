// runs/latest: a symbolic link to the newest run folder that lenet5 named itself, so that commands in the
// README and in a user's shell history keep working from one run to the next.
#pragma once

#include <string>

namespace lenet5::app {

// PARENT/latest for the run folder PARENT/NAME.
std::string latest_link_path(const std::string& run_dir);

// Points PARENT/latest at NAME (a relative link), replacing an older link atomically (a new link, then
// rename). Never replaces anything but a symbolic link; a failure is one warning on stderr, never an error.
void point_latest_link(const std::string& run_dir);

// Whether PARENT/latest is a link to `run_dir` now.
bool is_latest_link_to(const std::string& run_dir);

}  // namespace lenet5::app
