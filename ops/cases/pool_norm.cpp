#include "ops/op_cases.h"

namespace harnet {

void add_pool_norm_cases(std::vector<OpCase>& cases) {}

}  // namespace harnet
