# Third-party dependencies. LibTorch from Debian's libtorch-dev (1.13) or an official LibTorch 2.x given by
# CMAKE_PREFIX_PATH; CLI11 from its CMake package or a plain include directory; zlib; stb (image decoding).
# Header-only dependencies outside the system include path are given by their cache variables:
# -DLENET5_CLI11_INCLUDE_DIR, -DNLOHMANN_JSON_INCLUDE_DIR, -DSTB_INCLUDE_DIR (README, LibTorch 2.x).
set(LENET5_TORCH_MIN_VERSION 1.13)
set(LENET5_TORCH_TOO_NEW_VERSION 3.0)  # the first major version nobody has built against
if(NOT LENET5_TORCH_FREE_ONLY)
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    message(FATAL_ERROR "LibTorch not found: install Debian's libtorch-dev (1.13) or pass "
                        "-DCMAKE_PREFIX_PATH=/path/to/libtorch for an official LibTorch 2.x")
  endif()
  if(Torch_VERSION VERSION_LESS LENET5_TORCH_MIN_VERSION OR NOT Torch_VERSION VERSION_LESS LENET5_TORCH_TOO_NEW_VERSION)
    message(FATAL_ERROR "LibTorch ${Torch_VERSION} (${Torch_DIR}) is outside the versions lenet5 builds with: "
                        "${LENET5_TORCH_MIN_VERSION} up to 2.x; point CMAKE_PREFIX_PATH at one of those")
  endif()
  message(STATUS "LibTorch ${Torch_VERSION} from ${Torch_DIR}; TORCH_CXX_FLAGS: ${TORCH_CXX_FLAGS}")
  # TORCH_CXX_FLAGS carries the libstdc++ ABI LibTorch was built with (-D_GLIBCXX_USE_CXX11_ABI=0 in the
  # pre-cxx11 official builds). std::string and std::vector cross between every library of this project,
  # torch-free ones included, so every target compiles with it, not only those linking torch.
  separate_arguments(LENET5_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  add_compile_options(${LENET5_TORCH_CXX_FLAGS})
endif()
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)

# Torch's imported target carries no C++ standard; keep ours on every target.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)

find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp HINTS ${LENET5_CLI11_INCLUDE_DIR})
  if(NOT CLI11_INCLUDE_DIR)
    message(FATAL_ERROR "CLI11 not found: install libcli11-dev or pass -DLENET5_CLI11_INCLUDE_DIR=<dir with CLI/CLI.hpp>")
  endif()
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

# stb_image: Debian's libstb-dev ships headers and a compiled libstb; elsewhere the header alone is enough
# (app/image_io.cpp then compiles the implementation itself).
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
find_library(STB_LIBRARY stb)

# One precompiled LibTorch header shared by every torch target (REUSE_FROM needs identical flags).
if(NOT LENET5_TORCH_FREE_ONLY)
add_library(lenet5_torch_pch OBJECT ${CMAKE_SOURCE_DIR}/cmake/pch_stub.cpp)
target_link_libraries(lenet5_torch_pch PUBLIC ${TORCH_LIBRARIES})
lenet5_set_warnings(lenet5_torch_pch)
if(LENET5_USE_PCH)
  target_precompile_headers(lenet5_torch_pch PRIVATE <torch/torch.h>)
endif()
endif()

# lenet5_use_torch(target): link LibTorch and reuse the shared precompiled header.
function(lenet5_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  if(LENET5_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM lenet5_torch_pch)
  endif()
endfunction()

find_package(nlohmann_json 3 CONFIG QUIET)
if(NOT TARGET nlohmann_json::nlohmann_json)
  find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp)
  if(NOT NLOHMANN_JSON_INCLUDE_DIR)
    message(FATAL_ERROR "nlohmann/json not found: install nlohmann-json3-dev or pass -DNLOHMANN_JSON_INCLUDE_DIR=<dir with nlohmann/json.hpp>")
  endif()
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${NLOHMANN_JSON_INCLUDE_DIR})
endif()
