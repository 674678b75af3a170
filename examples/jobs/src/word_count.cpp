#include <xgate/examples/jobs.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace xgate::examples {

namespace {
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

void write_file_atomically(const std::string& path, const std::string& text) {
  // Write then rename: a job that moves or crashes while writing leaves no half file, and a
  // rerun overwrites with the same bytes.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}
}  // namespace

std::string word_count_text(const std::map<std::string, std::uint64_t>& counts) {
  std::string text;
  for (const auto& [word, n] : counts) {
    text += word;
    text += '\t';
    text += std::to_string(n);
    text += '\n';
  }
  return text;
}

void word_count(xgate::job_context& ctx, WordCountState& s) {
  // Locals are rebuilt from the arguments and the state on every entry.
  const std::string input = ctx.arg("input"), output = ctx.arg("output");
  const std::uint64_t every = ctx.arg_u64("every", 0), throttle_ms = ctx.arg_u64("throttle_ms", 0);
  std::ifstream in(input, std::ios::binary);
  if (!in) throw std::runtime_error("word-count: cannot open input " + input);
  const std::uint64_t size = std::filesystem::file_size(input);
  in.seekg(static_cast<std::streamoff>(s.offset));

  std::vector<char> buf(std::size_t{1} << 16);
  std::uint64_t base = s.offset;  // file offset of buf[0]
  std::string word;               // the word being read (it may span two reads)
  auto counted = [&](std::uint64_t end) {
    ++s.counts[word];
    ++s.words;
    s.offset = end;
    word.clear();
    if (every != 0 && s.words % every == 0) {
      ctx.progress(s.offset, size);
      if (throttle_ms) std::this_thread::sleep_for(std::chrono::milliseconds(throttle_ms));
      ctx.checkpoint(migrate::save::now);
    } else {
      if ((s.words & 4095) == 0) ctx.progress(s.offset, size);
      ctx.checkpoint();  // the state is exact here: a safe point
    }
  };
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::size_t got = static_cast<std::size_t>(in.gcount());
    for (std::size_t i = 0; i < got; ++i) {
      if (!is_space(buf[i])) word.push_back(buf[i]);
      else if (!word.empty()) counted(base + i);
    }
    base += got;
  }
  if (!word.empty()) counted(base);
  ctx.progress(1.0);
  write_file_atomically(output, word_count_text(s.counts));
  ctx.result(s.counts);
}

}  // namespace xgate::examples

XGATE_JOB("word-count", 1, xgate::examples::WordCountState, xgate::examples::word_count)
