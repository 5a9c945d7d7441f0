// tests/docs/check_pages.cpp: the code shown in docs/ is the code the tests compile.
//
//   check_pages <repository root> <page.md>...
//
// In a page, a fenced code block right after the comment
//   <!-- snippet: docs/snippets/architecture.cpp#declare -->
// must equal the region of that file between the two lines `// [declare]` (or `# [declare]` in
// CMake files), with the region's common indentation removed; without `#tag`, the whole file.
// A ```cpp block without such a comment is an error: every C++ example in the checked pages
// comes from a file the tests build. Prints one line per problem and exits 1 if there was any.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> read_lines(const std::filesystem::path& path, bool& ok) {
  std::ifstream in(path);
  ok = static_cast<bool>(in);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b);
}

// The lines of `file` between its two `// [tag]` (or `# [tag]`) lines, dedented; an empty
// optional-like result with `error` set when the region is missing or unclosed.
std::vector<std::string> region(const std::vector<std::string>& file, const std::string& tag, std::string& error) {
  std::vector<std::size_t> marks;
  for (std::size_t i = 0; i < file.size(); ++i) {
    const std::string t = trim(file[i]);
    if (t == "// [" + tag + "]" || t == "# [" + tag + "]") marks.push_back(i);
  }
  if (marks.size() != 2) {
    error = "expected exactly two '[" + tag + "]' marker lines, found " + std::to_string(marks.size());
    return {};
  }
  std::vector<std::string> lines(file.begin() + static_cast<long>(marks[0]) + 1, file.begin() + static_cast<long>(marks[1]));
  std::size_t indent = std::string::npos;
  for (const auto& l : lines)
    if (!l.empty()) indent = std::min(indent, l.find_first_not_of(' '));
  for (auto& l : lines)
    if (!l.empty()) l = l.substr(indent == std::string::npos ? 0 : indent);
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: check_pages <repository root> <page.md>...\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  int problems = 0, checked = 0;
  auto problem = [&](const std::string& where, const std::string& what) {
    std::printf("%s: %s\n", where.c_str(), what.c_str());
    ++problems;
  };
  for (int a = 2; a < argc; ++a) {
    const std::string page_name = argv[a];
    bool ok = false;
    const auto page = read_lines(root / page_name, ok);
    if (!ok) {
      problem(page_name, "cannot be read");
      continue;
    }
    std::string pending;  // the snippet named by the last comment, until a block uses it
    for (std::size_t i = 0; i < page.size(); ++i) {
      const std::string line = trim(page[i]);
      const std::string where = page_name + ":" + std::to_string(i + 1);
      if (line.rfind("<!-- snippet:", 0) == 0) {
        pending = trim(line.substr(13, line.find("-->") - 13));
        while (!pending.empty() && pending.back() == ' ') pending.pop_back();
        continue;
      }
      if (line.rfind("```", 0) != 0) {
        if (!line.empty()) pending.clear();
        continue;
      }
      // A fenced block: collect it up to the closing fence.
      const std::string language = trim(line.substr(3));
      std::vector<std::string> block;
      std::size_t j = i + 1;
      for (; j < page.size() && trim(page[j]).rfind("```", 0) != 0; ++j) block.push_back(page[j]);
      i = j;
      if (pending.empty()) {
        if (language == "cpp" || language == "c++" || language == "cuda")
          problem(where, "a " + language + " block without a <!-- snippet: FILE#TAG --> comment before it");
        continue;
      }
      const auto hash = pending.find('#');
      const std::string file_name = pending.substr(0, hash);
      const std::string tag = hash == std::string::npos ? std::string() : pending.substr(hash + 1);
      pending.clear();
      const auto file = read_lines(root / file_name, ok);
      if (!ok) {
        problem(where, "snippet file " + file_name + " cannot be read");
        continue;
      }
      std::string error;
      const auto expected = tag.empty() ? file : region(file, tag, error);
      if (!error.empty()) {
        problem(where, file_name + ": " + error);
        continue;
      }
      ++checked;
      if (block != expected) {
        std::size_t k = 0;
        while (k < block.size() && k < expected.size() && block[k] == expected[k]) ++k;
        problem(where, "the block differs from " + file_name + (tag.empty() ? "" : "#" + tag) + " at its line " +
                           std::to_string(k + 1) + ":\n  page: " + (k < block.size() ? block[k] : "(end)") +
                           "\n  file: " + (k < expected.size() ? expected[k] : "(end)"));
      }
    }
  }
  std::printf("%d code blocks checked against their files, %d problems\n", checked, problems);
  return problems == 0 ? 0 : 1;
}
