from hitl_cli.cli import main

main()
