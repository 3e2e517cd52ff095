// cxx.cc: operator new/new[] in every libstdc++ flavour, from named methods of a namespaced class.
/*
 * Figures at exit (outstanding bytes / allocations per allocation-site function, demangled):
 *   app::Cache::fill(int)                   600 / 3   new Entry (200 B) x4, one sized delete
 *   app::Cache::fill_array(int)            3000 / 1   new char[3000] x2, one delete[]
 *   app::Cache::fill_nothrow(int)           960 / 3   new (nothrow) Small (320 B) x3
 *   app::Cache::fill_nothrow_array(int)    1700 / 1   new (nothrow) char[1700] x1
 *   app::Cache::fill_aligned(int)           896 / 2   new Line (448 B, align 64) x3, 1 deleted
 *   app::Cache::fill_aligned_array(int)    1280 / 1   new Page[2] (640 B each, align 128): 1280 B
 *   app::Cache::fill_aligned_nothrow(int)  1536 / 2   new (nothrow) Wide (768 B, align 256) x2
 *   app::Cache::fail_nothrow()                0 / 0   new (nothrow) char[1 << 62] returns nullptr
 * Each new counts once: the malloc/aligned_alloc inside libstdc++'s operator new is not a second
 * allocation, and no stack has an operator new as its allocation site.
 */
#include <cstddef>
#include <cstring>
#include <new>

extern "C" {
#include "wl.h"
}

#define NOINLINE __attribute__((noinline))

namespace app
{

struct Entry {
	char bytes[200];
};
struct Small {
	char bytes[320];
};
struct alignas(64) Line {
	char bytes[448];
};
struct alignas(128) Page {
	char bytes[640];
};
struct alignas(256) Wide {
	char bytes[768];
};

class Cache
{
      public:
	NOINLINE void fill(int n);
	NOINLINE void fill_array(int n);
	NOINLINE void fill_nothrow(int n);
	NOINLINE void fill_nothrow_array(int n);
	NOINLINE void fill_aligned(int n);
	NOINLINE void fill_aligned_array(int n);
	NOINLINE void fill_aligned_nothrow(int n);
	NOINLINE bool fail_nothrow();
	NOINLINE void evict();

      private:
	Entry *entries_[8] = {};
	char *arrays_[8] = {};
	Small *smalls_[8] = {};
	char *nothrow_arrays_[8] = {};
	Line *lines_[8] = {};
	Page *pages_ = nullptr;
	Wide *wides_[8] = {};
};

void Cache::fill(int n)
{
	for (int i = 0; i < n; i++)
		entries_[i] = new Entry; /* SITE:fill */
}

void Cache::fill_array(int n)
{
	for (int i = 0; i < n; i++)
		arrays_[i] = new char[3000]; /* SITE:fill_array */
}

void Cache::fill_nothrow(int n)
{
	for (int i = 0; i < n; i++)
		smalls_[i] = new (std::nothrow) Small; /* SITE:fill_nothrow */
}

void Cache::fill_nothrow_array(int n)
{
	for (int i = 0; i < n; i++)
		nothrow_arrays_[i] = new (std::nothrow) char[1700]; /* SITE:fill_nothrow_array */
}

void Cache::fill_aligned(int n)
{
	for (int i = 0; i < n; i++)
		lines_[i] = new Line; /* SITE:fill_aligned */
}

void Cache::fill_aligned_array(int n)
{
	pages_ = new Page[n]; /* SITE:fill_aligned_array */
}

void Cache::fill_aligned_nothrow(int n)
{
	for (int i = 0; i < n; i++)
		wides_[i] = new (std::nothrow) Wide; /* SITE:fill_aligned_nothrow */
}

bool Cache::fail_nothrow()
{
	volatile std::size_t huge = std::size_t(1) << 62;
	char *p = new (std::nothrow) char[huge]; /* SITE:fail_nothrow */
	bool failed = p == nullptr;

	delete[] p;
	return failed;
}

void Cache::evict()
{
	delete entries_[0]; // sized delete: operator delete(void*, unsigned long)
	entries_[0] = nullptr;
	delete[] arrays_[0]; // operator delete[](void*)
	arrays_[0] = nullptr;
	delete lines_[0]; // operator delete(void*, unsigned long, std::align_val_t)
	lines_[0] = nullptr;
}

} // namespace app

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();

	// allocated in main: not one of the sites above
	app::Cache *cache = new (std::nothrow) app::Cache;

	cache->fill(4);
	cache->fill_array(2);
	cache->fill_nothrow(3);
	cache->fill_nothrow_array(1);
	cache->fill_aligned(3);
	cache->fill_aligned_array(2);
	cache->fill_aligned_nothrow(2);
	if (!cache->fail_nothrow())
		return 1;
	cache->evict();

	wl_done();
	wl_bye();
	return 0;
}
