// strata/layers.hpp: every layer spec strata ships.
#pragma once

#include "strata/layers/batch_norm.hpp"
#include "strata/layers/concat.hpp"
#include "strata/layers/conv.hpp"
#include "strata/layers/dropout.hpp"
#include "strata/layers/leaky_relu.hpp"
#include "strata/layers/max_pool.hpp"
#include "strata/layers/relu.hpp"
#include "strata/layers/residual.hpp"
#include "strata/layers/sigmoid.hpp"
#include "strata/layers/tanh.hpp"
#include "strata/layers/upsample.hpp"
