// strata/core/compile_text.hpp: short strings built at compile time.
//
// Layer names ("Conv<32, 3>") and shape errors are composed in constant expressions. A shape
// error becomes a template argument, so the compiler prints the whole sentence in the first line
// of its diagnostic, e.g.
//   In instantiation of 'struct strata::detail::invalid_stack<strata::CompileText{"MaxPool<2> at index 5
//   applied to 32x63x63: height and width must be multiples of 2"}>'
#pragma once

#include <string>
#include <string_view>

namespace strata {

struct CompileText {
  static constexpr int capacity = 160;
  char text[capacity]{};
  int length = 0;

  constexpr CompileText() = default;
  constexpr CompileText(const char* s) { append(s); }  // NOLINT(google-explicit-constructor)

  constexpr CompileText& append(const char* s) {
    for (int i = 0; s[i] != '\0' && length < capacity - 1; ++i) text[length++] = s[i];
    return *this;
  }
  constexpr CompileText& append(const CompileText& other) { return append(other.text); }
  constexpr CompileText& append(long long v) {
    if (v < 0) {
      append("-");
      v = -v;
    }
    char digits[24]{};
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0 && length < capacity - 1) text[length++] = digits[--n];
    return *this;
  }
  constexpr CompileText& append(int v) { return append(static_cast<long long>(v)); }

  constexpr bool empty() const { return length == 0; }
  constexpr std::string_view view() const { return {text, static_cast<std::size_t>(length)}; }
  std::string str() const { return std::string(view()); }
};

// CompileText("Conv<") + 32 + ", " + 3 + ">"
constexpr CompileText operator+(CompileText a, const char* b) { return a.append(b); }
constexpr CompileText operator+(CompileText a, int b) { return a.append(b); }
constexpr CompileText operator+(CompileText a, const CompileText& b) { return a.append(b); }

}  // namespace strata
