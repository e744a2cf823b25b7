# Third-party dependencies. LibTorch from Debian's libtorch-dev (1.13) or an official LibTorch 2.x given by
# CMAKE_PREFIX_PATH; CLI11 from its CMake package or a plain include directory; zlib; stb (image decoding).
if(NOT LENET5_TORCH_FREE_ONLY)
find_package(Torch REQUIRED)
endif()
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)

# Torch's imported target carries no C++ standard; keep ours on every target.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)

find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp
    HINTS ${LENET5_CLI11_INCLUDE_DIR} ${CMAKE_SOURCE_DIR}/.gpu/include)
  if(NOT CLI11_INCLUDE_DIR)
    message(FATAL_ERROR "CLI11 not found: install libcli11-dev or pass -DLENET5_CLI11_INCLUDE_DIR=<dir with CLI/CLI.hpp>")
  endif()
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

# stb_image: Debian's libstb-dev ships headers and a compiled libstb; elsewhere the header alone is enough
# (app/image_io.cpp then compiles the implementation itself).
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb HINTS ${CMAKE_SOURCE_DIR}/.gpu/include/stb)
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
  find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp HINTS ${CMAKE_SOURCE_DIR}/.gpu/include)
  if(NOT NLOHMANN_JSON_INCLUDE_DIR)
    message(FATAL_ERROR "nlohmann/json not found: install nlohmann-json3-dev")
  endif()
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${NLOHMANN_JSON_INCLUDE_DIR})
endif()
