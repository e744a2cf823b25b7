// Text from outside (file names, class names from a model's metadata, names read out of a picture) made safe
// to print on a terminal: one helper for every message and for predict's output; and the one line of a message.
// Torch-free.
#pragma once

#include <string>
#include <string_view>

namespace lenet5::text {

// Escapes what a terminal would interpret or that would break a one-line message: C0 controls (newline and
// tab included), DEL and the C1 controls U+0080-U+009F become \xNN or \u00NN; bytes that are not valid UTF-8
// become \xNN. Printable ASCII and valid UTF-8 pass unchanged, and so does a backslash, so applying it twice
// changes nothing more.
std::string printable(std::string_view text);

// The text up to its first newline: error messages that carry a backtrace or context lines after it.
std::string first_line(const std::string& text);

}  // namespace lenet5::text
