cwlVersion: v1.2
class: Workflow
inputs:
  log: string
outputs:
  text: {type: string, outputSource: c/text}
steps:
  a:
    run: counted.cwl
    in: {prefix: {default: a}, value: {default: "0"}, log: log}
    out: [text]
  b:
    run: counted.cwl
    in: {prefix: {default: b}, value: a/text, log: log}
    out: [text]
  c:
    run: counted.cwl
    in: {prefix: {default: c}, value: b/text, log: log}
    out: [text]
