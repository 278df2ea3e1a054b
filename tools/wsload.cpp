// The wsload command line; everything lives in <wsload/cli.hpp>, where tests reach it.
#include <wsload/cli.hpp>

int main(int argc, char** argv) {
  return wsload::cli::main(argc, argv);
}
