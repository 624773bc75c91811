stage "a" {
  command    = "echo ${stage.c.name}"
}

stage "b" {
  depends_on = [stage.a]
}

stage "c" {
  inputs = stage.b.outputs
}

stage "d" {
  depends_on = [stage.c]
}
