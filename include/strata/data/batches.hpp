// strata/data/batches.hpp: float batches for inpainting, prepared on a background thread.
//
// A batch is (input, target) in NCHW float in [0, 1]: the target is the whole image, the input
// the same image with the hole blanked to 0. While the model trains on batch k (and batch k + 1,
// handed out too, crosses to a GPU), a worker thread fills batch k + 2 into the third of three
// buffers allocated once, so preparing data costs the training loop nothing but a hand-over.
// The order of images is given per epoch by the caller.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <mutex>
#include <stdexcept>
#include <string>
#include <span>
#include <thread>
#include <vector>

#include "strata/data/hole.hpp"
#include "strata/data/image_set.hpp"

namespace strata::data {

// uint8 HWC -> float CHW in [0, 1].
inline void to_chw(std::span<const std::uint8_t> hwc, int side, float* chw) {
  const std::size_t plane = static_cast<std::size_t>(side) * side;
  for (std::size_t p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) chw[c * plane + p] = static_cast<float>(hwc[p * 3 + c]) * (1.0f / 255.0f);
}

// Fills input/target for images `indices` of `set`.
inline void fill_batch(const ImageSet& set, std::span<const std::size_t> indices, const Hole& hole, float* input,
                       float* target) {
  const std::size_t sample = set.image_bytes();
  for (std::size_t n = 0; n < indices.size(); ++n) {
    to_chw(set.image(indices[n]), set.side, target + n * sample);
    std::copy(target + n * sample, target + (n + 1) * sample, input + n * sample);
    hole.blank(input + n * sample, 3, set.side, set.side);
  }
}

class BatchPrefetcher {
 public:
  struct Batch {
    std::span<const float> input;
    std::span<const float> target;
    std::span<const std::size_t> indices;  // which images of the set
    int size = 0;
  };

  BatchPrefetcher(const ImageSet& set, int max_batch, Hole hole)
      : set_(set), max_batch_(max_batch), hole_(hole) {
    const std::size_t floats = static_cast<std::size_t>(max_batch) * set.image_bytes();
    for (auto& slot : slots_) {
      slot.input.allocate(floats);
      slot.target.allocate(floats);
    }
  }
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;
  ~BatchPrefetcher() { stop(); }

  // Begins an epoch over `order` in batches of `batch` (the last one may be smaller).
  void start(std::vector<std::size_t> order, int batch) {
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument("BatchPrefetcher: batch must be in 1.." + std::to_string(max_batch_));
    stop();
    order_ = std::move(order);
    batch_ = batch;
    batch_count_ = static_cast<int>((order_.size() + static_cast<std::size_t>(batch) - 1) / static_cast<std::size_t>(batch));
    next_ = 0;
    for (auto& slot : slots_) slot.state = Slot::State::free;
    stopping_ = false;
    worker_ = std::thread([this] { produce(); });
  }

  int batch_count() const { return batch_count_; }

  // Hands each batch buffer to `lock` (std::span<float> -> std::shared_ptr<void>) and keeps what
  // it returns for the prefetcher's life: a GPU backend page-locks them (Cuda::lock_host_memory),
  // so that its copy engine reads batches without a staging copy. Before the first epoch.
  template <class Lock>
  void lock_buffers(Lock&& lock) {
    for (auto& slot : slots_)
      for (auto* buffer : {&slot.input, &slot.target}) locks_.push_back(lock(std::span<float>(*buffer)));
  }

  // A different hole for the epochs started from now on (a resumed run uses its own).
  void set_hole(const Hole& hole) {
    stop();
    hole_ = hole;
  }

  // Batch k of the epoch, in order. Its views stay valid until the second call after this one:
  // the current batch and the next are held at once, so that a GPU can receive the next while
  // the current one trains (Model::upload_ahead), and a third is filled meanwhile.
  Batch next() {
    if (next_ >= batch_count_)
      throw std::logic_error("BatchPrefetcher::next: the epoch has " + std::to_string(batch_count_) + " batches");
    std::unique_lock lock(mutex_);
    if (next_ >= kHeld) {  // the slot of the batch before the previous one can be refilled
      slots_[(next_ - kHeld) % kSlots].state = Slot::State::free;
      changed_.notify_all();
    }
    Slot& slot = slots_[next_ % kSlots];
    changed_.wait(lock, [&] { return slot.state == Slot::State::ready; });
    ++next_;
    return {std::span<const float>(slot.input.data(), static_cast<std::size_t>(slot.size) * set_.image_bytes()),
            std::span<const float>(slot.target.data(), static_cast<std::size_t>(slot.size) * set_.image_bytes()),
            slot.indices, slot.size};
  }

 private:
  // Whole pages of floats, so that page-locking one buffer never touches another's pages.
  class PageAlignedFloats {
   public:
    // Once: a buffer may be page-locked after it (lock_buffers), so it never moves.
    void allocate(std::size_t count) {
      if (data_ != nullptr) throw std::logic_error("BatchPrefetcher: a batch buffer is allocated once");
      constexpr std::size_t kPage = 4096;
      const std::size_t bytes = (count * sizeof(float) + kPage - 1) / kPage * kPage;
      data_.reset(static_cast<float*>(std::aligned_alloc(kPage, std::max(bytes, kPage))));
      if (data_ == nullptr) throw std::bad_alloc();
      size_ = count;
    }
    float* data() const { return data_.get(); }
    std::size_t size() const { return size_; }
    operator std::span<float>() { return {data_.get(), size_}; }  // NOLINT(google-explicit-constructor)

   private:
    struct Free {
      void operator()(float* p) const { std::free(p); }
    };
    std::unique_ptr<float, Free> data_;
    std::size_t size_ = 0;
  };

  struct Slot {
    enum class State { free, filling, ready };
    State state = State::free;
    PageAlignedFloats input, target;
    std::span<const std::size_t> indices;
    int size = 0;
  };

  void produce() {
    for (int k = 0; k < batch_count_; ++k) {
      Slot& slot = slots_[k % kSlots];
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stopping_ || slot.state == Slot::State::free; });
        if (stopping_) return;
        slot.state = Slot::State::filling;
      }
      const std::size_t begin = static_cast<std::size_t>(k) * batch_;
      const std::size_t end = std::min(order_.size(), begin + static_cast<std::size_t>(batch_));
      slot.indices = std::span<const std::size_t>(order_).subspan(begin, end - begin);
      slot.size = static_cast<int>(end - begin);
      fill_batch(set_, slot.indices, hole_, slot.input.data(), slot.target.data());
      {
        std::lock_guard lock(mutex_);
        slot.state = Slot::State::ready;
      }
      changed_.notify_all();
    }
  }

  void stop() {
    if (!worker_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  const ImageSet& set_;
  int max_batch_;
  Hole hole_;
  static constexpr int kHeld = 2;               // batches handed out and still valid
  static constexpr int kSlots = kHeld + 1;      // and one being filled
  Slot slots_[kSlots];
  std::vector<std::shared_ptr<void>> locks_;  // after slots_: released before the memory they lock
  std::vector<std::size_t> order_;
  int batch_ = 1;
  int batch_count_ = 0;
  int next_ = 0;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::thread worker_;
};

}  // namespace strata::data
