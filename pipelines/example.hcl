# A small text pipeline of exec stages that needs only POSIX tools (sh, cat,
# tr, grep, sort, uniq, head, wc, cp): it gathers this repository's docs,
# splits them into words, counts them and writes a report.
#
#   pipe run pipelines/example.hcl                     # from the repository root
#   pipe run pipelines/example.hcl -var top=20 -var shout=true
#   pipe graph pipelines/example.hcl | dot -Tsvg > example.svg
#
# A second `pipe run` skips every stage; editing README.md reruns gather and
# the stages downstream of it.

pipeline {
  description  = "Word statistics of pipe's own documentation."
  max_parallel = 4
}

variable "out" {
  type        = string
  default     = "out/example"
  description = "Directory the stages write into (relative to where pipe runs)."
}

variable "min_length" {
  type        = number
  default     = 4
  description = "Shortest word counted."
  validation {
    condition     = var.min_length >= 1 && var.min_length <= 30
    error_message = "min_length must be between 1 and 30."
  }
}

variable "top" {
  type        = number
  default     = 10
  description = "How many of the most frequent words the report lists."
}

variable "shout" {
  type        = bool
  default     = false
  description = "Also write an upper-case copy of the report."
}

locals {
  root    = abspath("${path.pipeline}/..")
  sources = concat(["${local.root}/README.md"], glob("${local.root}/docs/*.md"))
  quoted  = join(" ", formatlist("'%s'", local.sources))
}

stage "gather" {
  description = "Concatenate the README and the design notes into one corpus."
  inputs      = local.sources
  outputs     = ["${var.out}/corpus.txt"]
  command     = "mkdir -p '${var.out}' && cat ${local.quoted} > '${var.out}/corpus.txt'"
  retries     = 2
  retry_delay = "1s"
}

stage "words" {
  description = "One lower-case word per line, words shorter than min_length dropped."
  # stage.gather.outputs makes this stage depend on gather.
  inputs  = stage.gather.outputs
  outputs = ["${var.out}/words.txt"]
  env     = { LC_ALL = "C", MIN = var.min_length }
  command = <<-EOT
    tr -cs 'A-Za-z' '\n' < '${stage.gather.outputs[0]}' \
      | tr 'A-Z' 'a-z' \
      | grep -E "^.{$MIN,}$" > '${var.out}/words.txt'
  EOT
  timeout = "1m"
}

stage "count" {
  description = "The most frequent words."
  inputs      = stage.words.outputs
  outputs     = ["${var.out}/top.txt"]
  env         = { LC_ALL = "C" }
  command     = "sort '${stage.words.outputs[0]}' | uniq -c | sort -k1,1nr -k2 | head -n ${var.top} > '${var.out}/top.txt'"
}

stage "total" {
  description = "How many words, and how many distinct ones."
  inputs      = stage.words.outputs
  outputs     = ["${var.out}/total.txt"]
  env         = { LC_ALL = "C" }
  command     = "printf '%s words, %s distinct\\n' $(wc -l < '${stage.words.outputs[0]}') $(sort -u '${stage.words.outputs[0]}' | wc -l) > '${var.out}/total.txt'"
}

stage "report" {
  description = "A markdown report from the count and the total."
  inputs      = concat(stage.count.outputs, stage.total.outputs)
  outputs     = ["${var.out}/report.md"]
  command     = <<-EOT
    {
      echo '# Words in the pipe documentation'
      echo
      cat '${stage.total.outputs[0]}'
      echo
      echo '| count | word |'
      echo '|---:|---|'
      while read -r n w; do echo "| $n | $w |"; done < '${stage.count.outputs[0]}'
    } > '${var.out}/report.md'
  EOT
}

stage "shout" {
  description = "An upper-case copy of the report, only with -var shout=true."
  enabled     = var.shout
  inputs      = stage.report.outputs
  outputs     = ["${var.out}/REPORT.md"]
  command     = "tr 'a-z' 'A-Z' < '${stage.report.outputs[0]}' > '${var.out}/REPORT.md'"
}

stage "publish" {
  description = "Copy the report next to the corpus under a stable name (argv form: no shell)."
  depends_on  = [stage.total]
  inputs      = stage.report.outputs
  outputs     = ["${var.out}/latest.md"]
  command     = ["cp", stage.report.outputs[0], "${var.out}/latest.md"]
}
