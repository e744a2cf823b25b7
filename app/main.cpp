#include "cli.h"

int main(int argc, char** argv) { return lenet5::app::run(argc, argv); }
