// Base64 (RFC 4648, with padding): pictures inside HTML pages and JSON answers. Torch-free.
#pragma once

#include <string>
#include <string_view>

namespace lenet5::text {

std::string base64(std::string_view bytes);

}  // namespace lenet5::text
