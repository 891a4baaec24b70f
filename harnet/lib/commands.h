// The subcommands of the `harnet` executable, each a function from its arguments to an
// exit code. Errors inside a command are harnet::Error exceptions; run_command turns them
// into one line on stderr and exit code 1.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace harnet {

// harnet gradcheck [--op NAME] [--seed N] [--list]
int gradcheck_command(const std::vector<std::string>& args);
// harnet train --data FILE.h5 --out RUN_DIR [options] | --resume RUN_DIR: see command_train.cpp
int train_command(const std::vector<std::string>& args);
// harnet eval --checkpoint CKPT.h5 --data FILE.h5 [--split S|all] [--out DIR]
int eval_command(const std::vector<std::string>& args);
// harnet predict --checkpoint CKPT.h5 --data FILE.h5 [--top-k K] [--json]
int predict_command(const std::vector<std::string>& args);
// harnet convert --format msr-action3d|air-act2act DIR -o OUT.h5 [--all] [--camera C00x] [--fps F]
int convert_command(const std::vector<std::string>& args);
// harnet info FILE: summary of a dataset file; exit code 1 with one line when it is invalid
int info_command(const std::vector<std::string>& args);
// harnet summary [--joints J] [--classes C] [--channels C_in] [--frames T] [--config FILE.json]
int summary_command(const std::vector<std::string>& args);
// harnet synth -o FILE [--classes K] [--subjects S] [--repetitions R] [--frames T] [--seed N]
int synth_command(const std::vector<std::string>& args);

// "557 sequences, 21825 frames, 20 classes, 10 subjects": the summary line of the data commands.
std::string dataset_summary(const SkeletonDataset& dataset);

// Runs fn, printing "harnet <name>: error: <message>" and returning 1 on an exception.
int run_command(const std::string& name, const std::function<int()>& fn);

}  // namespace harnet
