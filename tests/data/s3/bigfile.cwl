cwlVersion: v1.2
class: Workflow
doc: makes a big file in one job and checksums it in the next (through the job store)
inputs: {mib: int}
outputs: {sum: {type: File, outputSource: sum/out}}
steps:
  make:
    run:
      class: CommandLineTool
      baseCommand: [head, -c]
      inputs: {mib: {type: int, inputBinding: {valueFrom: "$(self)M"}}}
      arguments: [{position: 2, valueFrom: /dev/zero}]
      requirements: {InlineJavascriptRequirement: {}}
      stdout: big.bin
      outputs: {out: stdout}
    in: {mib: mib}
    out: [out]
  sum:
    run:
      class: CommandLineTool
      baseCommand: [md5sum]
      inputs: {f: {type: File, inputBinding: {}}}
      stdout: sum.txt
      outputs: {out: stdout}
    in: {f: make/out}
    out: [out]
