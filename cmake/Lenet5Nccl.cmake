# lenet5_find_nccl(target): compiles c10d's NCCL backend into `target` (LENET5_HAVE_NCCL) where LibTorch is a
# CUDA build with ProcessGroupNCCL and NCCL's header and library are found: in a pip wheel they come from
# NVIDIA's nccl package beside torch (site-packages/nvidia/...), in other installs from the system or CUDA.
# Settle it by hand with -DLENET5_NCCL_INCLUDE_DIR=... -DLENET5_NCCL_LIBRARY=...
include(CheckCXXSourceCompiles)

function(lenet5_find_nccl target)
  set(header ${LENET5_C10D_INCLUDE_DIR}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp)
  if(NOT LENET5_C10D_INCLUDE_DIR OR NOT EXISTS ${header} OR
     NOT (TARGET torch_cuda OR TORCH_CUDA_LIBRARY OR TORCH_CUDA_LIBRARIES))
    return()  # a CPU LibTorch: nothing to say
  endif()
  file(GLOB wheel_includes ${TORCH_INSTALL_PREFIX}/../nvidia/*/include ${TORCH_INSTALL_PREFIX}/../nvidia/*/*/include)
  file(GLOB wheel_libraries ${TORCH_INSTALL_PREFIX}/../nvidia/*/lib ${TORCH_INSTALL_PREFIX}/../nvidia/*/*/lib)
  find_path(LENET5_NCCL_INCLUDE_DIR nccl.h HINTS ${wheel_includes} ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(LENET5_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${wheel_libraries} ${CUDAToolkit_LIBRARY_DIR}
               /usr/local/cuda/lib64)
  if(NOT LENET5_NCCL_INCLUDE_DIR OR NOT LENET5_NCCL_LIBRARY)
    message(STATUS "Distributed training: no NCCL (nccl.h: ${LENET5_NCCL_INCLUDE_DIR}, "
                   "library: ${LENET5_NCCL_LIBRARY}); set LENET5_NCCL_INCLUDE_DIR and LENET5_NCCL_LIBRARY")
    return()
  endif()
  # Compiled only (LibTorch's imported targets do not carry into a try-compile project): the header and its
  # includes must be there; the link is the build's.
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  set(CMAKE_REQUIRED_INCLUDES ${TORCH_INCLUDE_DIRS} ${CUDAToolkit_INCLUDE_DIRS} ${LENET5_C10D_INCLUDE_DIR}
                              ${LENET5_NCCL_INCLUDE_DIR})
  set(CMAKE_REQUIRED_DEFINITIONS -DUSE_C10D_NCCL)
  set(CMAKE_REQUIRED_FLAGS "${TORCH_CXX_FLAGS}")
  check_cxx_source_compiles([[
    #include <torch/csrc/distributed/c10d/HashStore.hpp>
    #include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
    int main(int argc, char**) {
      if (argc < 5) return 0;
      auto options = c10d::ProcessGroupNCCL::Options::create();
      c10d::ProcessGroupNCCL group(c10::make_intrusive<c10d::HashStore>(), 0, 1, options);
      return 0;
    }]] LENET5_NCCL_BUILDS)
  if(NOT LENET5_NCCL_BUILDS)
    message(STATUS "Distributed training: ProcessGroupNCCL does not compile here (see CMakeConfigureLog.yaml); no NCCL")
    return()
  endif()
  message(STATUS "Distributed training: NCCL (${LENET5_NCCL_INCLUDE_DIR})")
  target_compile_definitions(${target} PRIVATE LENET5_HAVE_NCCL USE_C10D_NCCL)
  target_include_directories(${target} PRIVATE ${LENET5_NCCL_INCLUDE_DIR})
  target_link_libraries(${target} PRIVATE ${LENET5_NCCL_LIBRARY})
endfunction()
