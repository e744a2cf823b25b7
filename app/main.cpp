#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli.h"

int main(int argc, char** argv) {
  const int code = lenet5::app::run(argc, argv);
  // Everything of the command has ended with run() (its files are closed, its locks released); what is left
  // are static objects, and tearing down LibTorch's (with the ~290 libraries Debian's build loads) took
  // ~90 ms after every command here. So the output is flushed and the process ends without them.
  std::cout.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
