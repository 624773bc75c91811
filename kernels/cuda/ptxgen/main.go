// Command ptxgen compiles kernels/cuda/src to PTX for every architecture in
// ptxbuild.Archs and rewrites kernels/cuda/ptx (the PTX and its STAMP).
// Run it through `go tool task cuda:ptx` from the repository root.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/pipeml/pipe/kernels/cuda/ptxbuild"
)

func main() {
	dir := flag.String("dir", "kernels/cuda", "the kernels/cuda directory")
	nvcc := flag.String("nvcc", "nvcc", "the nvcc to run")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := ptxbuild.Generate(ctx, *dir, *nvcc); err != nil {
		fmt.Fprintln(os.Stderr, "ptxgen:", err)
		os.Exit(1)
	}
	if err := ptxbuild.Check(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "ptxgen: check after generate:", err)
		os.Exit(1)
	}
}
