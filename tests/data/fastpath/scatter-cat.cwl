cwlVersion: v1.2
class: Workflow
requirements:
  ScatterFeatureRequirement: {}
inputs:
  files: File[]
  other: File?
outputs:
  out: {type: 'File[]', outputSource: cat/out}
  name: {type: 'string[]', outputSource: cat/name}
steps:
  cat:
    run: cat.cwl
    scatter: f
    in: {f: files, g: other}
    out: [out, where, name]
