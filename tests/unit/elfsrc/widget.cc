// widget.cc: C++ fixture for the demangling test of the symbolize unit tests.
#include "fx_lines.h"

namespace ns {
struct Widget {
	unsigned long size;
	void grow(unsigned long n);
};

void Widget::grow(unsigned long n) { size += n; } static_assert(__LINE__ == FX_LINE_GROW, "");
} // namespace ns

// Keeps the method emitted and referenced.
extern "C" unsigned long fx_widget_use(unsigned long n)
{
	ns::Widget w = { 1 };

	w.grow(n);
	return w.size;
}
