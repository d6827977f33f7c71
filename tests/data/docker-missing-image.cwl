cwlVersion: v1.2
class: CommandLineTool
requirements:
  DockerRequirement: {dockerPull: "runner-cwl-test/no-such-image:never"}
baseCommand: "true"
inputs: []
outputs: []
