cwlVersion: v1.2
class: Workflow
requirements: {InlineJavascriptRequirement: {}}
inputs:
  text: File
  folder: Directory
outputs:
  upper: {type: File, outputSource: up/out}
  chars: {type: int, outputSource: count/n}
  listing: {type: File, outputSource: ls/out}
  copied: {type: Directory, outputSource: cp/out}
steps:
  up:
    run:
      class: CommandLineTool
      baseCommand: [tr, a-z, A-Z]
      inputs: {f: File}
      stdin: $(inputs.f.path)
      stdout: upper.txt
      outputs: {out: stdout}
    in: {f: text}
    out: [out]
  count:
    run:
      class: CommandLineTool
      baseCommand: [wc, -c]
      inputs: {f: File}
      stdin: $(inputs.f.path)
      stdout: n.txt
      outputs:
        n:
          type: int
          outputBinding:
            glob: n.txt
            loadContents: true
            outputEval: $(parseInt(self[0].contents))
    in: {f: up/out}
    out: [n]
  ls:
    run:
      class: CommandLineTool
      baseCommand: [ls]
      inputs: {d: {type: Directory, inputBinding: {}}}
      stdout: listing.txt
      outputs: {out: stdout}
    in: {d: folder}
    out: [out]
  cp:
    run:
      class: CommandLineTool
      baseCommand: [cp, -r]
      inputs: {d: {type: Directory, inputBinding: {position: 1}}}
      arguments: [{position: 2, valueFrom: copy}]
      outputs: {out: {type: Directory, outputBinding: {glob: copy}}}
    in: {d: folder}
    out: [out]
