// bench/comma_list.hpp: the benchmarks' list flags (--threads 1,2, --batch 64,128,256, --arch v1,v2),
// shared by cpu_bench.cpp, sgemm_ceiling.cpp and gpu/bench.cu.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace strata::bench {

// The items of a comma-separated list, empty ones dropped ("1,2," is 1 and 2).
inline std::vector<std::string> comma_list(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

}  // namespace strata::bench
