cwlVersion: v1.2
class: CommandLineTool
requirements:
  ResourceRequirement: {coresMin: $(inputs.cores), ramMin: 64}
baseCommand: [python3, -c]
arguments:
  - "import sys, time; s = time.time(); time.sleep(float(sys.argv[1])); open('times.txt', 'w').write('start %r end %r' % (s, time.time()))"
  - $(inputs.seconds)
inputs:
  seconds: float
  cores: {type: int, default: 1}
outputs:
  times: {type: File, outputBinding: {glob: times.txt}}
