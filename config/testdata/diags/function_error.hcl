stage "a" {
  command = file("no/such/file.txt")
}

stage "b" {
  command = upper(1, 2)
}

stage "c" {
  command = env("PIPE_TEST_SURELY_UNSET")
}
