cwlVersion: v1.2
class: Workflow
inputs: {mib: int}
outputs: {out: {type: File, outputSource: make/out}}
steps:
  make: {run: make.cwl, in: {mib: mib}, out: [out]}
