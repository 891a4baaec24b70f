// Everything in ops/, for users who want one include.
#pragma once

#include "autograd/autograd.h"
#include "autograd/generator.h"
#include "autograd/gradcheck.h"
#include "autograd/parallel.h"
#include "autograd/tensor.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/recurrent.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/softmax.h"
