cwlVersion: v1.2
class: CommandLineTool
doc: writes MIB mebibytes of zeros to big.bin
requirements: {InlineJavascriptRequirement: {}}
baseCommand: [head, -c]
inputs: {mib: {type: int, inputBinding: {valueFrom: "$(self)M"}}}
arguments: [{position: 2, valueFrom: /dev/zero}]
stdout: big.bin
outputs: {out: stdout}
