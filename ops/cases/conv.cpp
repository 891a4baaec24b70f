#include "ops/op_cases.h"

namespace harnet {

void add_conv_cases(std::vector<OpCase>& cases) {}

}  // namespace harnet
