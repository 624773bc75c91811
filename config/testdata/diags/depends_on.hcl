stage "a" {
  depends_on = ["b", stage.a.name]
}

stage "b" {
  depends_on = [stage.a]
  command    = "echo ${stage.b.name}"
}
