// cxxgrow_nofp.cc: leaks through libstdc++ (std::string) and std::vector growth, built -O2 without frame pointers.
/*
 * Figures at exit (outstanding bytes / blocks), by the user function on the stack:
 *   app::Journal::reserve_lines(int)   15003 / 3   std::string::reserve(5000) x3: libstdc++'s
 *                                                  reserve calls operator new(5001) itself
 *   app::Journal::grow_index(int)       4096 / 1   std::vector<int> grown by push_back to 1024
 *                                                  elements: the last buffer is held
 * Debian's libstdc++ has no frame pointers: between operator new and reserve_lines lie
 * libstdc++'s own frames, which only its unwind tables can step over. The stacks must still
 * reach the user function and main.
 */
#include <string>
#include <vector>

extern "C" {
#include "wl.h"
}

#define NOINLINE __attribute__((noinline))

namespace app
{

class Journal
{
      public:
	NOINLINE void reserve_lines(int n);
	NOINLINE void grow_index(int n);

	std::string lines_[3];
	std::vector<int> index_;
};

void Journal::reserve_lines(int n)
{
	for (int i = 0; i < n; i++) {
		lines_[i].reserve(5000); /* CALL:reserve */
		lines_[i] += 'a';
	}
}

void Journal::grow_index(int n)
{
	for (int i = 0; i < n; i++)
		index_.push_back(i); /* CALL:push_back */
}

} // namespace app

static app::Journal *journal;

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	wl_ready();
	journal = new app::Journal;
	journal->reserve_lines(3); /* CALL:reserve_lines */
	journal->grow_index(1024); /* CALL:grow_index */
	wl_done();
	wl_bye();
	return journal->lines_[0].size() == 1 ? 0 : 1;
}
