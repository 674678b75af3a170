// The node program: this directory's jobs, and the node daemon of `migrate node`.
#include <xgate/nodes/node_main.hpp>

int main(int argc, char** argv) { return xgate::nodes::node_main(argc, argv); }
