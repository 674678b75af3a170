#include <xgate/migrate/job_library.hpp>

#include <dlfcn.h>

#include <cstring>
#include <memory>
#include <mutex>

namespace xgate::migrate {

namespace {
migrate_error refused(const std::string& path, const std::string& why) {
  return migrate_error(migrate_errc::bad_job_library, "", "job library \"" + path + "\": " + why);
}
}  // namespace

std::vector<const job_type*> load_job_library(const std::string& path, job_registry& into) {
  // dlerror() is per thread but dlopen's bookkeeping is not ours to interleave.
  static std::mutex loading;
  std::lock_guard lock(loading);
  // A path without '/' would be searched for in the library path: name the file itself.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  ::dlerror();
  // RTLD_LOCAL: its symbols (its copy of xgate included) stay out of everyone else's way.
  // Closed again on every refusal; released once its types are in `into`.
  std::unique_ptr<void, int (*)(void*)> handle(::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL), ::dlclose);
  if (!handle) {
    const char* e = ::dlerror();
    throw refused(path, std::string("cannot be loaded: ") + (e ? e : "unknown dlopen failure"));
  }
  auto entry = reinterpret_cast<const job_library_info* (*)()>(::dlsym(handle.get(), "xgate_job_library"));
  if (!entry)
    throw refused(path, "is not an xgate job library (it has no xgate_job_library entry point: add XGATE_JOB_LIBRARY() "
                        "to one of its files, or build it with xgate_add_job_library)");
  const job_library_info* info = entry();
  if (!info || info->magic != job_library_magic)
    throw refused(path, "is not an xgate job library (its xgate_job_library entry point is not xgate's)");
  const std::string this_build = std::string("xgate ") + XGATE_VERSION_STRING + " (job library ABI " +
                                 std::to_string(job_library_abi) + ", " + detail::toolchain + ")";
  const std::string its_build = std::string("xgate ") + (info->version ? info->version : "?") + " (job library ABI " +
                                std::to_string(info->abi) + ", " + (info->toolchain ? info->toolchain : "?") + ")";
  if (info->abi != job_library_abi || !info->version || std::strcmp(info->version, XGATE_VERSION_STRING) != 0 ||
      !info->toolchain || std::strcmp(info->toolchain, detail::toolchain) != 0)
    throw refused(path, "was built against " + its_build + ", this node is " + this_build + ": rebuild it against this xgate");
  // Checked, then added: either all of its types or none.
  const std::vector<const job_type*> offered = info->jobs->all();
  if (offered.empty()) throw refused(path, "registers no job type (XGATE_JOB in its files)");
  for (const job_type* t : offered)
    if (const job_type* had = into.find(t->name))
      throw refused(path, "brings job type \"" + t->name + "\", which this node has already" +
                              (had->library.empty() ? std::string(" (built into the program)") : " (from \"" + had->library + "\")"));
  std::vector<const job_type*> added;
  for (const job_type* t : offered) {
    job_type copy = *t;
    copy.library = path;
    into.add(std::move(copy));
    added.push_back(into.find(t->name));
  }
  (void)handle.release();  // stays open: the types' functions live in it
  return added;
}

}  // namespace xgate::migrate
