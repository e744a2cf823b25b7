// How much memory a dataset may take: checked before allocating, so that a dataset that cannot fit ends in one
// line naming the file and the memory it needs instead of an allocator failure. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lenet5::data {

// Memory the system can still give this process: MemAvailable (/proc/meminfo), lowered to what the cgroup's
// memory.max leaves; nothing when unknown.
std::optional<std::uint64_t> available_memory();

// "1.5 GiB", "730.0 MiB", "512 bytes".
std::string format_bytes(std::uint64_t bytes);

// Throws IdxError "<path>: <what> needs <bytes> of memory, <available> available" when bytes > available.
void require_memory(const std::string& path, std::uint64_t bytes, const std::string& what,
                    std::optional<std::uint64_t> available = available_memory());

}  // namespace lenet5::data
