"""The `bertgen` command: one module per group of subcommands, registered by main.py.

    main.py        the parser and dispatch (`bertgen = bertgen.cli.main:main`)
    generate.py    bertgen generate / bertgen run --task text2text-generation
    experiment.py  bertgen train, bertgen experiment run | sweep | table
    data.py        bertgen data fetch | stats
    demo.py        bertgen demo (the main job)

Importing this package loads neither torch nor datasets: each subcommand imports what it needs when it runs,
so `bertgen --help` answers at once.
"""
