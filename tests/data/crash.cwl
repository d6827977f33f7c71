cwlVersion: v1.2
class: Workflow
doc: 2 x N jobs; b_i needs a_i.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  values: string[]
  log: string
outputs:
  texts: {type: 'string[]', outputSource: b/text}
  files: {type: 'File[]', outputSource: b/file}
steps:
  a:
    run: counted.cwl
    scatter: value
    in: {prefix: {default: a}, value: values, log: log}
    out: [text]
  b:
    run: counted.cwl
    scatter: value
    in: {prefix: {default: b}, value: a/text, log: log}
    out: [text, file]
