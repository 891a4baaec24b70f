#include "ops/op_cases.h"

namespace harnet {

void add_softmax_loss_cases(std::vector<OpCase>& cases) {}

}  // namespace harnet
