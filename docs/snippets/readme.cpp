// docs/snippets/readme.cpp: the example in README.md, compiled and run by the tests.
// [example]
#include <strata/strata.hpp>
using namespace strata;

// The 7-conv inpainting autoencoder of the IFT6266 (2017) class project, as a type.
using ConvNetV1 = Sequential<Input<3, 64, 64>,
    Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<2>,
    Conv<64, 3>, ReLU, MaxPool<2>,
    Conv<128, 3>, ReLU, Upsample<2>,
    Conv<64, 3>, ReLU, Upsample<2>,
    Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;
static_assert(ConvNetV1::parameter_count == 195'619);

int main() {
  Model<ConvNetV1, Cpu> model{/*max_batch=*/64, /*seed=*/1};   // all memory allocated here
  Adam adam{};                                                   // Keras' defaults
  std::vector<float> x(64 * 3 * 64 * 64, 0.5f), y = x, out(x.size());   // NCHW floats
  float loss = model.train_step(x, y, /*batch=*/64, BinaryCrossEntropy{}, adam);
  model.predict(x, /*batch=*/64, out);
  return loss > 0 ? 0 : 1;
}
// [example]
