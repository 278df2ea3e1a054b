// The wsload command line; its parts live in tools/cli/, the program's own headers.
#include "cli/options.hpp"

int main(int argc, char** argv) {
  return wsload::cli::main(argc, argv);
}
