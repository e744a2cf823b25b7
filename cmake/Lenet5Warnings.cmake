# lenet5_set_warnings(target): the project's warning flags, applied PRIVATE so they never leak to users.
function(lenet5_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
  endif()
endfunction()
