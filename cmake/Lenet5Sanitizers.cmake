# LENET5_SANITIZE (ASan + UBSan) and LENET5_FUZZ (libFuzzer, clang) instrument every target of the build, so
# both imply LENET5_TORCH_FREE_ONLY: LibTorch and its users are left out.
if(LENET5_SANITIZE OR LENET5_FUZZ)
  if(NOT LENET5_TORCH_FREE_ONLY)
    message(STATUS "LENET5_SANITIZE/LENET5_FUZZ: building the torch-free targets only")
    set(LENET5_TORCH_FREE_ONLY ON)
  endif()
  set(LENET5_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_compile_options(${LENET5_SANITIZER_FLAGS})
  add_link_options(-fsanitize=address,undefined)
endif()

if(LENET5_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LENET5_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage instrumentation everywhere; only the fuzzer executables link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
