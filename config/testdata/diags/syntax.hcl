stage "a" {
  command = "echo
}
