from tenure.cli.app import main

main()
