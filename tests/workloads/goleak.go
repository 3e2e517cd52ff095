// goleak.go: a Go program (its own allocator, no malloc) that leaks through a slice of byte slices.
//
// Usage: goleak [-w]
// With -w, the protocol of wl.h: "ready PID", a line, then leakSlices() keeps 1024 slices of
// 64 KiB, each page of them written (64 MiB made resident there), "done", a line, "bye".
package main

import (
	"bufio"
	"fmt"
	"os"
)

var held [][]byte

//go:noinline
func leakSlices(n, size int) {
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		for j := 0; j < size; j += 4096 {
			b[j] = byte(i)
		}
		held = append(held, b)
	}
}

func main() {
	wait := len(os.Args) > 1 && os.Args[1] == "-w"
	in := bufio.NewReader(os.Stdin)
	if wait {
		fmt.Printf("ready %d\n", os.Getpid())
		in.ReadString('\n')
	}
	leakSlices(1024, 64<<10)
	if wait {
		fmt.Println("done")
		in.ReadString('\n')
		fmt.Println("bye")
	}
}
