// Everything in optim/, for users who want one include: optimizers (SGD, Adam, AdamW, RMSprop),
// learning-rate schedulers and gradient clipping.
#pragma once

#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/lr_scheduler.h"
#include "optim/one_cycle_lr.h"
#include "optim/optimizer.h"
#include "optim/reduce_lr_on_plateau.h"
#include "optim/rmsprop.h"
#include "optim/sequential_lr.h"
#include "optim/sgd.h"
