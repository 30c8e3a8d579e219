// Command hello is the smallest Go binary: the image tests build it for
// the platforms they do not run, where only its build information matters.
package main

func main() { println("hello") }
