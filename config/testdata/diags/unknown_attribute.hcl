stage "a" {
  comand = "echo a"
}
