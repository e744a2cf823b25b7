#include <iostream>

#include "commands.h"
#include "lenet5/deploy/printable.h"

int main(int argc, char** argv) {
  CLI::App app{"lenet5: train, export and serve LeNet-5 (LeCun et al., 1998) with LibTorch"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("lenet5 ") + LENET5_VERSION);
  lenet5::app::setup_summary(app);
  lenet5::app::setup_train(app);
  lenet5::app::setup_eval(app);
  lenet5::app::setup_export(app);
  lenet5::app::setup_predict(app);
  lenet5::app::setup_bench(app);
  lenet5::app::setup_visualize(app);
  lenet5::app::setup_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors exit with 2, --help and --version with 0
  } catch (const std::invalid_argument& e) {  // a flag value the libraries rejected: a usage error
    std::cerr << "lenet5: error: " << lenet5::deploy::printable(e.what()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "lenet5: error: " << lenet5::deploy::printable(e.what()) << "\n";
    return 1;
  }
  return 0;
}
