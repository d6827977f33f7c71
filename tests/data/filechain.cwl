cwlVersion: v1.2
class: Workflow
doc: three steps that pass a File along (each command line names its staged input)
inputs:
  start: File
  log: string
outputs:
  file: {type: File, outputSource: c/file}
steps:
  a:
    run: appendf.cwl
    in: {file: start, log: log, tag: {default: a}}
    out: [file]
  b:
    run: appendf.cwl
    in: {file: a/file, log: log, tag: {default: b}}
    out: [file]
  c:
    run: appendf.cwl
    in: {file: b/file, log: log, tag: {default: c}}
    out: [file]
